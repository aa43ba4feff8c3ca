"""Takedown cases: states, working-day deadlines, readiness, complaint packages, stay-down."""
