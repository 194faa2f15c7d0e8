"""Core: plain data and errors that every layer and every process uses.

Messages (``_message``), the error tree (``_errors``), config dataclasses
(``_config``), call events (``_events``), the current task (``_context``),
addresses, tokens, TLS material and connection files. Modules here import
only each other (``_tls`` loads ``cryptography`` lazily); never gRPC, the
runtime, the facade or the notebook layer.
"""
