"""'Did you mean' hints for a misspelt command, flag or config key.

TensorFlow-free: the command line's errors import it.
"""

import difflib


def did_you_mean(words, candidates, show=str):
    """`' (did you mean X?)'` naming the closest of `candidates` to each of
    `words` that has a close one (`difflib.get_close_matches`, leading
    dashes ignored), each shown as `show` gives it; `''` when none has.

    Example:
        >>> did_you_mean(["--flexmach"], ["--flexmatch", "--epochs"])
        ' (did you mean --flexmatch?)'
    """
    bare = {c.lstrip("-"): c for c in candidates}
    matches = {}
    for word in words:
        close = difflib.get_close_matches(word.lstrip("-"), bare, n=1)
        if close and bare[close[0]] != word:
            matches[show(word)] = show(bare[close[0]])
    if not matches:
        return ""
    if len(matches) == 1:
        return f" (did you mean {next(iter(matches.values()))}?)"
    pairs = ", ".join(f"{good} for {bad}" for bad, good in matches.items())
    return f" (did you mean {pairs}?)"
