import { IsAccountEmail, IsGivenPassword, IsNewPassword } from '../../common/validation.js';

export class RegisterDto {
  @IsAccountEmail()
  email: string;

  @IsNewPassword()
  password: string;
}

export class LoginDto {
  @IsAccountEmail()
  email: string;

  @IsGivenPassword()
  password: string;
}
