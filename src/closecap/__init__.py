"""closecap: markerless 3D motion capture of several people in close interaction."""
__version__ = "0.1.0"
