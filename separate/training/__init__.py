"""separate.training"""
