print("keep-bench: not yet written")
