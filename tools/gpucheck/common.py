"""What the check's Python scripts share."""
import torch
from transformers import AutoModelForSequenceClassification


def load(path):
    """The checkpoint as a float32 two-label classifier (transformers 5 names
    the argument dtype, 4 torch_dtype)."""
    try:
        return AutoModelForSequenceClassification.from_pretrained(path, num_labels=2, dtype=torch.float32)
    except TypeError:
        return AutoModelForSequenceClassification.from_pretrained(path, num_labels=2, torch_dtype=torch.float32)
