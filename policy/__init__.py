"""The llm-gateway policy pack (see __main__.py, pack.py, rules.py, graph.py and CHECKS.md)."""
