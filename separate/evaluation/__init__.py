"""separate.evaluation"""
