"""Choosing rows: balanced selection and stratified splitting."""
