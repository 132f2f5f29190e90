"""The command line's commands, one module per group; bot/__main__.py parses the
arguments, dispatches here and turns errors into exit codes.

run.py: run, once · check.py: check, health · match.py: match, backtest ·
digest.py: digest · ops.py: watchlists, feeds, backup · common.py: what they share
(logging level, loading the config the way each kind of command needs it).
"""
