"""Operators: start a track recording, and stop/pause/resume one (``.recording``)."""
