"""Jinja2 templates for generated modules: loops and prints only (decisions live in plan)."""
