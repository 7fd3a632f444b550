"""User-facing errors.

Anything the user can cause (a bad path, a corrupt file, a too-small dataset, an unknown config
key) raises `ParamembedError` with one sentence that names the problem. The command line turns it
into one line and a non-zero exit; the app turns it into `st.error`.
"""


class ParamembedError(Exception):
    """A problem with the user's input, explained in one line."""
