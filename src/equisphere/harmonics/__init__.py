"""harmonics"""
