"""Analyses over a recording: the profile model and the totals renderers draw from.

OS-neutral and independent of any renderer.  Every analysis works per distinct
stack (the recording aggregates samples with SQL ``GROUP BY``), never per sample,
so post-processing cost grows with the number of distinct stacks.
"""
