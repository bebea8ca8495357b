"""resample"""
