"""The runs' JSON-lines logs (metrics.jsonl: one record per step and validation; tests.jsonl: one
test evaluation per invocation of models/train.sh), read in one place."""
import json
import os


def read_jsonl(path):
    """The records of a JSON-lines file, one dict per non-blank line; [] if the file does not exist."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]
