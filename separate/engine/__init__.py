"""separate.engine"""
