"""Helpers for the browser tests: a throw-away JupyterLab server and JupyterLab page actions."""
