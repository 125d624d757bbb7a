"""Calling models and judging outside training: the one stack under selection and evaluation.

Modules: ``errors`` (the input error), ``endpoint`` (endpoint settings and clients), ``log`` (the
append-only JSON-lines result log), ``runner`` (the async call runner: budget, progress,
cancellation), ``scores`` (strict-JSON scores with re-asks) and ``rows`` (benchmark rows).
"""
