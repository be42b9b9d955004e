"""D2S (Describe-to-Score): text-guided image-complexity assessment.

Reference reproducibility suite. See README.md and DESIGN notes in the docstrings.
"""

__version__ = "0.1.0"
