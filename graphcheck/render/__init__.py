"""Renderers: text for people, JSON for tools."""
