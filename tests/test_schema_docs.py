"""The data dictionary in data/README.md is the one the schema generates."""
import re

from cmprehab import config
from cmprehab.data import schema


def test_readme_dictionary_matches_schema():
    text = (config.DATA_DIR / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- dictionary:start -->\n(.*?)<!-- dictionary:end -->", text, re.S)
    assert block, "data/README.md has no dictionary block"
    assert block.group(1) == schema.data_dictionary_markdown(), (
        "data/README.md is out of date: regenerate the block with `python -m cmprehab.data.schema`")
