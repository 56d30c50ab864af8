"""Fitted models used by calibration, one module per model (`mbgnbd`: the MBG/NBD repeat-purchase model).

The pipeline that reads an export and writes a scenario is `sim.calibration.calibrate`.
"""
