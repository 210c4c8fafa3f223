// One drizzle schema for both drivers. Each module keeps its tables in its own file, re-exported here.
export * from './audit';
export * from './identity';
export * from './auth';
export * from './mapping';
export * from './lti';
export * from './badges';
export * from './referentials';
export * from './xapi';
export * from './reports';
export * from './coverage';
export * from './gradebook';
export * from './rate-limits';
export * from './institutions';
export * from './wallet';
export * from './records';
export * from './transitions';
