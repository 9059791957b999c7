"""separate.adapt"""
