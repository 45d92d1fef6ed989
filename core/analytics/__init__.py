"""What managers learn: funnel, misjudgements, callbacks, defeats, loads; start pages; exports."""
