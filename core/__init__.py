"""The bottom layer every package may import: the typed contract of a retain project.

The experiment config and its parts, the runtime settings read from the environment, the money
(economics), the `Cutoff` type with its one parser, and the registry of model and task names.
It imports no other retain package, and no other package reads YAML or the environment by hand.
"""
