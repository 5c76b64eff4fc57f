"""Fitted parameters shipped with the detectors (see scripts/train_text_scorer.py)."""
