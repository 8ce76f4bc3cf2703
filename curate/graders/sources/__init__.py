"""Stdlib-only python grader sources behind the presets (see curate.graders.presets)."""
