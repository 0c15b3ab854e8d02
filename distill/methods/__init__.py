"""The methods of the four papers, each built on `distill.core`: teacher training (PD Algorithm 1) first."""
