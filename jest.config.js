/** Jest runs the TypeScript sources directly (ts-jest, ESM); workspace imports map to sources. */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  roots: ['<rootDir>/vm-agent/src', '<rootDir>/tasks/src', '<rootDir>/images/src', '<rootDir>/common/src', '<rootDir>/slave/src', '<rootDir>/master/src', '<rootDir>/test/src'],
  testMatch: ['**/*.test.ts'],
  moduleNameMapper: {
    '^@pyti/slave/cli$': '<rootDir>/slave/src/cli/main.ts',
    '^@pyti/master/cli$': '<rootDir>/master/src/cli/main.ts',
    '^@pyti/([a-z-]+)$': '<rootDir>/$1/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/tsconfig.jest.json' }],
  },
  testTimeout: 120000,
  verbose: false,
};
