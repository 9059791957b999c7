"""separate.audio"""
