"""``python -m fuzz`` (with tests/ on the path): the campaign of campaign.py."""

from fuzz.campaign import main

main()
