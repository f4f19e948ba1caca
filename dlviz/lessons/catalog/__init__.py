"""One module per lesson, each defining ``LESSON``; ``dlviz/lessons/registry.py`` finds them.

To add a lesson, copy a module here, give it a new key and its own steps.
"""
