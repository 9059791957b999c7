"""Complex-mask U-Net (being written)."""
