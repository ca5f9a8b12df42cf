"""Reporting: progress while searching, leaderboards and summaries afterwards."""
