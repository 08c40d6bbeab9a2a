/// KPI templates: declarative files of KPIs per industry, validated and evaluated through SQL.
public enum KPITemplates {}
