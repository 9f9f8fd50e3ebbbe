"""How a benchmark hands its result over: printed as JSON, and written to ``--output``."""

import json


def print_and_write(result, output=None):
    """Print ``result`` as indented JSON; also write it to the path ``output`` when given."""
    text = json.dumps(result, indent=2)
    print(text)
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text + "\n")
