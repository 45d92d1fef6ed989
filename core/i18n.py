"""Marking messages for translation without importing the web layer.

``N_("...")`` returns its argument unchanged; ``pybabel extract -k N_`` collects it, and the
web layer translates it when it shows the message.
"""


def N_(message: str) -> str:
    return message
