"""(being written)"""
FEATURES = {"x1": None, "x2": None}
