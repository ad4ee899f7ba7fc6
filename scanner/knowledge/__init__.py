"""Domain knowledge every stage reads, below all of them (docs/architecture.md): the identifier
types (identifiers.py), their validators and tables (validators.py), the device inventory and
subscriber list (inventory.py) and the Public Suffix List (psl.py). Nothing here imports a stage.
"""
