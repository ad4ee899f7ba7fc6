"""Scheduled audits of test devices: audit configs, the run history, baselines, watching and live capture.

One module per job: config.py (the audit config), history.py (SQLite run
history), baseline.py (privscan-baseline.yaml), run.py (one audit end to
end), watch.py (rotating capture files), capture.py (live capture), and
commands.py (the click commands that ``register(cli)`` adds to privscan).
"""
