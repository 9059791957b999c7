"""separate.f0"""
