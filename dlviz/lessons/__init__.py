"""Guided lessons: a set-up and steps whose checks run on the student's own runs.

``registry.lessons()`` lists them; each lives in ``catalog/``; ``checks`` and
``model_checks`` hold the checks; ``facts`` what they read. No Streamlit here.
"""
