"""(being written)"""
def load(path, params):
    raise NotImplementedError
