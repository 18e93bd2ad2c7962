"""The help desk: citizens who ask for a person, staff who answer them in a staff chat."""
