"""The flow-tui benchmark suite: every cost measured against a lean asyncio baseline.

Run `python -m benchmarks` from the repository root (`--quick` for a one-minute pass,
`--only CASE[,CASE]` for a subset, `--help` for the rest).
"""
