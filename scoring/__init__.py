"""Scoring: periods, versioned rule sets, scorecards and the ranking of the 102 communes."""
