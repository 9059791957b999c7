"""separate.synth"""
