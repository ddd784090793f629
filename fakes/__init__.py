"""Fake servers that speak the real Ollama / WeChat HTTP protocols, for tests and the simulator.

They are shipped (not test-only) because ``kefu simulate`` runs them too.
"""
